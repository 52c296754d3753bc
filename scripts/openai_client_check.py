"""Drives Sable's OpenAI-compatible API with the official `openai` Python package.

    python3 scripts/openai_client_check.py <base_url ending in /v1> <api key> <model> <text-only model>

Against the mock provider (`<text-only model>` configured with MODEL_CAPABILITIES=<m>=chat,json):
a completion, a stream, the model list, embeddings (base64 as the client asks by default,
and floats), a bad key (401), an unknown model (404); a tool-calling
loop with parallel calls, whole and streamed; JSON mode; a JSON schema through `parse`; `stop`;
`n = 2`; `seed`; logprobs; an image part; usage in a stream; and the capability refusals
(an image or tools for the text-only model). Run by the e2e tests
(crates/e2e/tests/e2e/openai_api.rs); scripts/test.sh installs the package into a virtualenv
and points OPENAI_PYTHON at it.
"""
import base64
import json
import struct
import sys
import zlib

import openai
import pydantic

base_url, key, model, text_only = sys.argv[1:5]
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

# ---- tools: the whole loop, with parallel calls ------------------------------------------
TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "additionalProperties": False, "required": ["city", "unit"],
                       "properties": {"city": {"type": "string"},
                                      "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}}}},
    {"type": "function", "function": {
        "name": "get_time", "description": "Local time",
        "parameters": {"type": "object", "required": ["zone"],
                       "properties": {"zone": {"type": "string"}, "hours": {"type": "integer", "minimum": 0}}}}},
]
QUESTION = "What are get_weather and get_time in Paris?"


def check_arguments(name, arguments):
    """The arguments are JSON that fits the tool's schema."""
    args = json.loads(arguments)
    if name == "get_weather":
        assert set(args) == {"city", "unit"} and isinstance(args["city"], str), args
        assert args["unit"] in ("celsius", "fahrenheit"), args
    else:
        assert isinstance(args["zone"], str) and args.get("hours", 0) >= 0, args


def results_for(calls):
    return [{"role": "tool", "tool_call_id": c["id"], "content": json.dumps({"ok": f"{c['name']} result"})}
            for c in calls]


messages = [{"role": "user", "content": QUESTION}]
first = client.chat.completions.create(model=model, messages=messages, tools=TOOLS)
choice = first.choices[0]
assert choice.finish_reason == "tool_calls", choice
calls = [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
         for c in choice.message.tool_calls]
assert [c["name"] for c in calls] == ["get_weather", "get_time"], calls
assert len({c["id"] for c in calls}) == 2, calls
for c in calls:
    check_arguments(c["name"], c["arguments"])
messages.append(choice.message.model_dump(exclude_none=True))
messages += results_for(calls)
final = client.chat.completions.create(model=model, messages=messages, tools=TOOLS)
text = final.choices[0].message.content
assert final.choices[0].finish_reason == "stop", final
assert "get_weather result" in text and "get_time result" in text, text
passed += 1

# The same loop streamed: tool calls arrive as delta.tool_calls fragments, in order.
messages = [{"role": "user", "content": QUESTION}]
calls, finish, order = {}, None, []
for chunk in client.chat.completions.create(model=model, messages=messages, tools=TOOLS, stream=True):
    if not chunk.choices:
        continue
    delta = chunk.choices[0].delta
    for fragment in delta.tool_calls or []:
        order.append(fragment.index)
        call = calls.setdefault(fragment.index, {"id": None, "name": "", "arguments": ""})
        call["id"] = fragment.id or call["id"]
        call["name"] += (fragment.function.name or "") if fragment.function else ""
        call["arguments"] += (fragment.function.arguments or "") if fragment.function else ""
    finish = chunk.choices[0].finish_reason or finish
assert finish == "tool_calls", finish
assert order == sorted(order) and len(order) > 4, order
calls = [calls[i] for i in sorted(calls)]
assert [c["name"] for c in calls] == ["get_weather", "get_time"], calls
for c in calls:
    check_arguments(c["name"], c["arguments"])
messages.append({"role": "assistant", "content": None, "tool_calls": [
    {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}} for c in calls]})
messages += results_for(calls)
text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
    model=model, messages=messages, tools=TOOLS, stream=True) if c.choices)
assert "get_weather result" in text and "get_time result" in text, text
passed += 1

# tool_choice names the tool; parallel_tool_calls: false gives one call.
forced = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hello"}], tools=TOOLS,
                                        tool_choice={"type": "function", "function": {"name": "get_time"}})
assert [c.function.name for c in forced.choices[0].message.tool_calls] == ["get_time"], forced
single = client.chat.completions.create(model=model, messages=[{"role": "user", "content": QUESTION}], tools=TOOLS,
                                        parallel_tool_calls=False)
assert len(single.choices[0].message.tool_calls) == 1, single
passed += 1

# ---- structured output ---------------------------------------------------------------------
json_mode = client.chat.completions.create(model=model, response_format={"type": "json_object"},
                                           messages=[{"role": "user", "content": "Answer in JSON"}])
assert isinstance(json.loads(json_mode.choices[0].message.content), dict), json_mode
passed += 1


class City(pydantic.BaseModel):
    name: str
    population: int
    districts: list[str]
    capital: bool


parse = getattr(client.chat.completions, "parse", None) or client.beta.chat.completions.parse
parsed = parse(model=model, response_format=City, messages=[{"role": "user", "content": "Describe Paris"}])
city = parsed.choices[0].message.parsed
assert isinstance(city, City) and city.districts, parsed
passed += 1

# ---- sampling fields -----------------------------------------------------------------------
stopped = client.chat.completions.create(model=model, stop=["three"],
                                         messages=[{"role": "user", "content": "one two three four"}])
text = stopped.choices[0].message.content
assert "three" not in text and text.rstrip().endswith("one two"), text
assert stopped.choices[0].finish_reason == "stop"
passed += 1

two = client.chat.completions.create(model=model, n=2, messages=[{"role": "user", "content": "Two ways"}])
assert [c.index for c in two.choices] == [0, 1], two
assert two.choices[0].message.content != two.choices[1].message.content, two
passed += 1

seeded = [client.chat.completions.create(model=model, seed=s, messages=[{"role": "user", "content": "Pick"}])
          .choices[0].message.content for s in (7, 7, 8)]
assert seeded[0] == seeded[1] != seeded[2], seeded
passed += 1

probs = client.chat.completions.create(model=model, logprobs=True, top_logprobs=2,
                                       messages=[{"role": "user", "content": "Hi"}])
content = probs.choices[0].logprobs.content
assert content and all(len(t.top_logprobs) == 2 for t in content), probs
passed += 1

usage = [c.usage for c in client.chat.completions.create(
    model=model, messages=[{"role": "user", "content": "Hi"}], stream=True,
    stream_options={"include_usage": True}) if c.usage]
assert len(usage) == 1 and usage[0].completion_tokens > 0, usage
passed += 1


# ---- an image part -------------------------------------------------------------------------
def png(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


url = "data:image/png;base64," + base64.b64encode(png(3, 2)).decode()
image_message = [{"role": "user", "content": [{"type": "text", "text": "What is in this picture?"},
                                              {"type": "image_url", "image_url": {"url": url}}]}]
seen = client.chat.completions.create(model=model, messages=image_message)
assert "PNG image of 3×2 pixels" in seen.choices[0].message.content, seen
passed += 1

# ---- capability refusals, in OpenAI's shape --------------------------------------------------
try:
    client.chat.completions.create(model=text_only, messages=image_message)
    raise AssertionError("an image was sent to a text-only model")
except openai.BadRequestError as e:
    assert e.code == "model_lacks_capability" and e.param == "messages.0.content.1", (e.code, e.param)
    assert text_only in e.message and "vision" in e.message, e.message
try:
    client.chat.completions.create(model=text_only, messages=[{"role": "user", "content": QUESTION}], tools=TOOLS)
    raise AssertionError("tools were sent to a model without them")
except openai.BadRequestError as e:
    assert e.code == "model_lacks_capability" and e.param == "tools", (e.code, e.param)
    assert text_only in e.message and "tools" in e.message, e.message
passed += 1

print(f"openai client: {passed} checks passed")
