"""Drives Sable's OpenAI-compatible API with the official `openai` Python package.

    python3 scripts/openai_client_check.py <base_url ending in /v1> <api key> <model>

A completion, a stream, the model list, embeddings (base64 as the client asks by default,
and floats), a bad key (401) and an unknown model (404).
Run by the e2e tests (crates/e2e/tests/e2e/openai_api.rs); scripts/test.sh installs the
package into a virtualenv and points OPENAI_PYTHON at it.
"""
import sys

import openai

base_url, key, model = sys.argv[1:4]
client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=30)
passed = 0

answer = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Say hello"}])
assert answer.choices[0].message.content, answer
assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
passed += 1

pieces = [c.choices[0].delta.content or "" for c in client.chat.completions.create(
    model=model, messages=[{"role": "user", "content": "Say hello"}], stream=True) if c.choices]
assert len(pieces) > 2 and "".join(pieces), pieces
passed += 1

assert model in [m.id for m in client.models.list()]
passed += 1

# The client asks for base64 unless told otherwise and decodes it: both must give the floats.
texts = ["The cat sat on the mat", "A cat sat on a mat", "Stock markets fell sharply"]
embedded = client.embeddings.create(model="embeddings", input=texts)
vectors = [d.embedding for d in sorted(embedded.data, key=lambda d: d.index)]
assert len(vectors) == 3 and len(vectors[0]) > 0, embedded
dot = lambda a, b: sum(x * y for x, y in zip(a, b))
assert dot(vectors[0], vectors[1]) > dot(vectors[0], vectors[2]), "texts sharing words are closer"
assert embedded.usage.prompt_tokens > 0 and embedded.usage.total_tokens == embedded.usage.prompt_tokens
floats = client.embeddings.create(model="embeddings", input=texts[0], encoding_format="float")
assert max(abs(x - y) for x, y in zip(floats.data[0].embedding, vectors[0])) < 1e-6
passed += 1

try:
    openai.OpenAI(base_url=base_url, api_key="sk-sable-wrong", max_retries=0).models.list()
    raise AssertionError("a bad key was accepted")
except openai.AuthenticationError as e:
    assert e.status_code == 401
passed += 1

try:
    client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    raise AssertionError("an unknown model was accepted")
except openai.NotFoundError as e:
    assert e.status_code == 404 and e.code == "model_not_found", e
passed += 1

print(f"openai client: {passed} checks passed")
