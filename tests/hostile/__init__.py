"""What a hostile source, server or client can try, each finding of the security review as a test."""
