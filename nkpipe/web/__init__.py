"""The review UI served by ``nkpipe serve``: FastAPI, server-rendered Jinja2 pages, no scripts."""
