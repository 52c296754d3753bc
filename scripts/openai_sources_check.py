"""Knowledge through Sable's OpenAI-compatible API with the official `openai` Python package:
the `sable` extra body field (`extra_body={"sable": {...}}`) grounds the answer in a
collection, and the answer carries its sources as an extra field.

    python3 scripts/openai_sources_check.py <base_url ending in /v1> <api key> <model> \
        <collection id> <question> <expected first source's filename>

Checks: a whole answer has top-level `sources` (the expected file first, numbered from 1) and
`cited`, and its text cites [1]; a stream has the same `sources` on its first chunk and on no
other; an unknown collection is 404 `collection_not_found`. Run by the e2e tests
(crates/e2e/tests/e2e/grounded_openai.rs) with OPENAI_PYTHON, as scripts/test.sh sets it.
"""
import sys
import uuid

import openai

base_url, key, model, collection, question, expected = sys.argv[1:7]
client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=30)
messages = [{"role": "user", "content": question}]
knowledge = {"sable": {"collection_ids": [collection]}}
passed = 0


def extra(model_object, name):
    """An extra field of a response object (the client keeps fields it does not know)."""
    return (model_object.model_extra or {}).get(name)


answer = client.chat.completions.create(model=model, messages=messages, extra_body=knowledge)
sources = extra(answer, "sources")
assert sources and sources[0]["filename"] == expected, sources
assert [s["n"] for s in sources] == list(range(1, len(sources) + 1)), sources
assert extra(answer, "cited") == [1], extra(answer, "cited")
assert "[1]" in answer.choices[0].message.content, answer.choices[0].message.content
passed += 1

chunks = list(client.chat.completions.create(
    model=model, messages=messages, extra_body=knowledge, stream=True))
assert extra(chunks[0], "sources") == sources, chunks[0]
assert all(extra(c, "sources") is None for c in chunks[1:])
text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
assert "[1]" in text, text
passed += 1

plain = client.chat.completions.create(model=model, messages=messages)
assert extra(plain, "sources") is None, plain
passed += 1

try:
    client.chat.completions.create(
        model=model, messages=messages,
        extra_body={"sable": {"collection_ids": [str(uuid.uuid4())]}})
    raise AssertionError("an unknown collection was accepted")
except openai.NotFoundError as e:
    assert e.status_code == 404 and e.code == "collection_not_found", e
passed += 1

print(f"openai sources: {passed} checks passed")
