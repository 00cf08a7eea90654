#!/usr/bin/env python3
"""A fake model server for keyrota's tests: OpenAI-compatible Chat
Completions on POST /v1/chat/completions (the query string, e.g. Azure's
?api-version=, is accepted and recorded) and Anthropic's Messages API on
POST /v1/messages, each in its own wire format.

Listens on 127.0.0.1 (port 0 picks a free one; the chosen port is written
to --port-file). The scenario of the next calls is set with
POST /__control {"scenario": NAME}; every model call is recorded (path,
query, headers and JSON body) and returned by GET /__requests. A scenario
answers in the format of the path it was called on; scenarios named
anthropic_* exist only on /v1/messages, and the OpenAI gateway scenarios
(error_in_200, ...) only on /v1/chat/completions.
POST /__reset clears the record. Scenarios that need more take it from
the same control object: "raw" answers every call with the bytes of
"body_b64" (for metadata no JSON encoder would write, e.g. invalid UTF-8);
"delay_by_model" waits "delays"[request model] milliseconds, then answers
eligible naming that model; "script" plays "replies", one per call in
order (the last one repeats), each {"status", "headers", "body" (a JSON
value, or "content" for a completion with that answer text), "delay_ms",
"pad" (bytes of JSON whitespace after the body)}. An unknown scenario
name, or a script reply with an unknown key, is refused with a 400 at
/__control, so a misspelt scenario fails the test that set it instead of
looking like a server error. Each recorded call says whether the client
hung up before the whole body was sent ("client_hung_up").
Nothing here needs more than Python's standard library."""
import argparse
import base64
import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER = {"decision": "eligible", "rotation_window_days": 30, "source_line_ids": ["P-7"]}

state = {"scenario": "success", "requests": [], "calls": 0, "options": {}}
lock = threading.Lock()


def completion(content=None, finish_reason="stop", refusal=None, model="fake-model-1"):
    message = {"role": "assistant", "content": content, "refusal": refusal}
    return {
        "id": "chatcmpl-fake-%d" % state["calls"],
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 321, "completion_tokens": 17, "total_tokens": 338},
    }


def message(text, stop_reason="end_turn", model="claude-fake-1"):
    """An Anthropic Messages API response with one text block."""
    return {
        "id": "msg_fake_%d" % state["calls"],
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 412, "output_tokens": 23},
    }


def anthropic_error(kind, text):
    return {"type": "error", "error": {"type": kind, "message": text},
            "request_id": "req_fake"}


def answer(**changes):
    a = dict(ANSWER)
    a.update(changes)
    return completion(json.dumps(a))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, obj, headers=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/__requests":
            with lock:
                self.send_json(200, state["requests"])
        else:
            self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        if self.path == "/__control":
            options = json.loads(raw)
            problem = refuse(options)
            if problem:
                return self.send_json(400, {"error": {"message": problem}})
            with lock:
                state["scenario"] = options["scenario"]
                state["options"] = options
                state["calls"] = 0
            return self.send_json(200, {"ok": True})
        if self.path == "/__reset":
            with lock:
                state["requests"] = []
                state["calls"] = 0
            return self.send_json(200, {"ok": True})
        path, _, query = self.path.partition("?")
        if path not in ("/v1/chat/completions", "/v1/messages"):
            return self.send_json(404, {"error": {"message": "unknown path"}})
        api = "anthropic" if path == "/v1/messages" else "openai"
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        with lock:
            state["calls"] += 1
            call = state["calls"]
            scenario = state["scenario"]
            record = {"headers": dict(self.headers.items()), "body": body,
                      "path": path, "query": query,
                      "scenario": scenario, "time": time.time(), "client_hung_up": False}
            state["requests"].append(record)
        try:
            if api == "anthropic":
                self.respond_anthropic(scenario, call, body)
            else:
                self.respond(scenario, call, body)
        except (BrokenPipeError, ConnectionResetError):
            with lock:
                record["client_hung_up"] = True
            self.close_connection = True

    def send_raw(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def respond(self, scenario, call, request_body):
        s = scenario
        options = state["options"]
        if s == "success":
            return self.send_json(200, answer())
        if s == "not_eligible":
            return self.send_json(200, answer(decision="not_eligible"))
        if s == "slow":
            time.sleep(6)
            return self.send_json(200, answer())
        if s == "error500":
            return self.send_json(500, {"error": {"message": "boom", "type": "server_error"}})
        if s == "rate_limit_then_success":
            if call == 1:
                return self.send_json(429, {"error": {"message": "slow down",
                                                      "code": "rate_limit_exceeded"}},
                                      {"Retry-After": "1"})
            return self.send_json(200, answer())
        if s == "rate_limit_ms_then_success":
            if call == 1:
                return self.send_json(429, {"error": {"message": "slow down", "code": 429}},
                                      {"retry-after-ms": "300"})
            return self.send_json(200, answer())
        if s == "rate_limit_long_wait":
            return self.send_json(429, {"error": {"message": "later"}}, {"Retry-After": "120"})
        if s == "insufficient_quota":
            return self.send_json(429, {"error": {"message": "quota", "type": "insufficient_quota",
                                                  "code": "insufficient_quota"}})
        if s == "unauthorized":
            return self.send_json(401, {"error": {"message": "Incorrect API key provided: sk-te***",
                                                  "code": "invalid_api_key"}})
        if s == "bad_request":
            return self.send_json(400, {"error": {"message": "bad", "code": 400}})
        if s == "prose":
            return self.send_json(200, completion("I believe this key is eligible under P-7."))
        if s == "unknown_enum":
            return self.send_json(200, answer(decision="approved"))
        if s == "window45":
            return self.send_json(200, answer(rotation_window_days=45))
        if s == "no_p7":
            return self.send_json(200, answer(source_line_ids=["P-3"]))
        if s == "html":
            return self.send_json(200, answer(decision="<script>alert(1)</script>",
                                              source_line_ids=["<img src=x onerror=alert(1)>"]))
        if s == "length":
            return self.send_json(200, completion('{"decision":"eligible"', finish_reason="length"))
        if s == "refusal":
            return self.send_json(200, completion(None, refusal="I can't help with that."))
        if s == "huge":
            filler = "x" * (5 * 1024 * 1024)
            return self.send_json(200, completion(json.dumps(ANSWER) + filler))
        if s == "raw":
            return self.send_raw(200, base64.b64decode(options["body_b64"]))
        if s == "error_in_200":
            # OpenRouter: the status line went out before the upstream failed.
            return self.send_json(200, {"error": {"code": 502, "message": "Upstream error"}})
        if s == "error_in_200_rate_limited":
            return self.send_json(200, {"error": {"code": "rate_limit_exceeded",
                                                  "message": "Rate limit exceeded"}})
        if s == "numeric_code_503":
            # vLLM and llama.cpp send "code" as an integer.
            return self.send_json(503, {"error": {"code": 503, "type": "ServiceUnavailableError",
                                                  "message": "Service Unavailable"}})
        if s == "payment_required":
            return self.send_json(402, {"error": {"code": 402, "message":
                                                  "Insufficient credits. Add more credits."}})
        if s == "credits_in_200":
            return self.send_json(200, {"error": {"code": 402, "message":
                                                  "Insufficient credits"}})
        if s == "error_in_choice":
            # OpenRouter: the upstream failed mid-generation; the error sits
            # in the choice, finish_reason "error".
            return self.send_json(200, {"id": "gen-1", "object": "chat.completion",
                                        "choices": [{"index": 0, "finish_reason": "error",
                                                     "message": {"role": "assistant",
                                                                 "content": ""},
                                                     "error": {"code": 502, "message":
                                                               "Provider disconnected"}}]})
        if s == "error_string_in_200":
            # LiteLLM and other proxies: "error" as a bare string.
            return self.send_json(200, {"error": "upstream connect error or disconnect"})
        if s == "credits_in_503":
            # A gateway's 5xx whose message says the credits ran out.
            return self.send_json(503, {"error": {"message": "Insufficient credits for "
                                                  "this request"}})
        if s == "delay_by_model":
            model = (request_body or {}).get("model", "")
            time.sleep(options["delays"].get(model, 0) / 1000.0)
            return self.send_json(200, completion(json.dumps(ANSWER), model=model))
        if s == "script":
            return self.play(options["replies"][min(call, len(options["replies"])) - 1])
        if s == "trailing_bytes":
            # A valid response followed by a second object: two answers.
            body = (json.dumps(answer()) + json.dumps(answer(decision="not_eligible"))).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if s == "content_nul":
            # A valid answer, then an escaped NUL and more text.
            return self.send_json(200, completion(json.dumps(ANSWER) + "\u0000 and more"))
        if s == "reset_mid_body":
            body = json.dumps(answer()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        raise AssertionError("scenario %r passed /__control but has no reply" % s)

    def respond_anthropic(self, s, call, request_body):
        """Anthropic's Messages API: the same fault matrix as the OpenAI
        path, in Anthropic's wire format and error shapes."""
        options = state["options"]
        if s == "success":
            return self.send_json(200, message(json.dumps(ANSWER)))
        if s == "slow":
            time.sleep(6)
            return self.send_json(200, message(json.dumps(ANSWER)))
        if s == "error500":
            return self.send_json(500, anthropic_error("api_error", "Internal server error"))
        if s == "anthropic_overloaded":
            return self.send_json(529, anthropic_error("overloaded_error", "Overloaded"))
        if s == "anthropic_overloaded_then_success":
            if call == 1:
                return self.send_json(529, anthropic_error("overloaded_error", "Overloaded"))
            return self.send_json(200, message(json.dumps(ANSWER)))
        if s == "rate_limit_then_success":
            if call == 1:
                return self.send_json(429, anthropic_error("rate_limit_error",
                                                           "Number of request tokens has "
                                                           "exceeded your per-minute rate limit"),
                                      {"retry-after": "1"})
            return self.send_json(200, message(json.dumps(ANSWER)))
        if s == "rate_limit_long_wait":
            return self.send_json(429, anthropic_error("rate_limit_error", "later"),
                                  {"retry-after": "120"})
        if s == "anthropic_spend_limit":
            # One signal only: the error code; the message names no limit.
            body = anthropic_error("rate_limit_error", "Request refused.")
            body["error"]["details"] = {"error_code": "enforced_spend_limit_reached"}
            return self.send_json(429, body)
        if s == "anthropic_spend_limit_words":
            # One signal only: the words, no error code.
            return self.send_json(429, anthropic_error(
                "rate_limit_error", "You have reached your monthly spend limit."))
        if s == "anthropic_workspace_spend_limit":
            return self.send_json(400, anthropic_error(
                "invalid_request_error", "This request would exceed your workspace's spend "
                "limit. Raise or remove the limit to continue."))
        if s == "anthropic_credit_balance":
            return self.send_json(400, anthropic_error(
                "invalid_request_error", "Your credit balance is too low to access the "
                "Anthropic API."))
        if s == "anthropic_billing":
            return self.send_json(402, anthropic_error("billing_error", "Payment required"))
        if s == "unauthorized":
            return self.send_json(401, anthropic_error("authentication_error",
                                                       "invalid x-api-key"))
        if s == "anthropic_forbidden":
            return self.send_json(403, anthropic_error("permission_error", "not allowed"))
        if s == "bad_request":
            return self.send_json(400, anthropic_error("invalid_request_error", "bad"))
        if s == "prose":
            return self.send_json(200, message("I believe this key is eligible under P-7."))
        if s == "length":
            return self.send_json(200, message('{"decision":"eligible"', stop_reason="max_tokens"))
        if s == "refusal":
            return self.send_json(200, message("", stop_reason="refusal"))
        if s == "anthropic_malformed":
            return self.send_raw(200, b'{"type":"message","content":[{"type":"text","text":')
        if s == "anthropic_two_blocks":
            m = message(json.dumps(ANSWER))
            m["content"].append({"type": "text", "text": json.dumps(dict(ANSWER,
                                                                          decision="not_eligible"))})
            return self.send_json(200, m)
        if s == "anthropic_tool_use":
            m = message(json.dumps(ANSWER))
            m["content"] = [{"type": "tool_use", "id": "toolu_1", "name": "x", "input": ANSWER}]
            return self.send_json(200, m)
        if s == "anthropic_error_in_200":
            return self.send_json(200, anthropic_error("overloaded_error", "Overloaded"))
        if s == "reset_mid_body":
            return self.respond(s, call, request_body)
        if s == "raw":
            return self.send_raw(200, base64.b64decode(options["body_b64"]))
        if s == "script":
            return self.play(options["replies"][min(call, len(options["replies"])) - 1],
                             "anthropic")
        raise AssertionError("scenario %r has no Anthropic reply" % s)

    def play(self, reply, api="openai"):
        time.sleep(reply.get("delay_ms", 0) / 1000.0)
        if "content" in reply and api == "anthropic":
            body = json.dumps(message(reply["content"]))
        elif "content" in reply:
            body = json.dumps(completion(reply["content"]))
        else:
            body = json.dumps(reply.get("body", answer()))
        # Sent in pieces so a client that stops reading is seen as a hang-up.
        data = body.encode() + b" " * reply.get("pad", 0)
        self.send_response(reply.get("status", 200))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in reply.get("headers", {}).items():
            self.send_header(k, v)
        self.end_headers()
        for i in range(0, len(data), 65536):
            self.wfile.write(data[i:i + 65536])
        self.wfile.flush()


SCENARIOS = {"success", "not_eligible", "slow", "error500", "rate_limit_then_success",
             "rate_limit_ms_then_success", "rate_limit_long_wait", "insufficient_quota",
             "unauthorized", "bad_request", "prose", "unknown_enum", "window45", "no_p7",
             "html", "length", "refusal", "huge", "raw", "delay_by_model", "script",
             "trailing_bytes", "content_nul", "reset_mid_body",
             "error_in_200", "error_in_200_rate_limited", "numeric_code_503",
             "payment_required", "credits_in_200", "error_in_choice",
             "error_string_in_200", "credits_in_503", "anthropic_spend_limit_words",
             "anthropic_overloaded", "anthropic_overloaded_then_success",
             "anthropic_spend_limit", "anthropic_workspace_spend_limit",
             "anthropic_credit_balance", "anthropic_billing", "anthropic_forbidden",
             "anthropic_malformed", "anthropic_two_blocks", "anthropic_tool_use",
             "anthropic_error_in_200"}
REPLY_KEYS = {"status", "headers", "body", "content", "delay_ms", "pad"}


def refuse(options):
    """Why a control object cannot be played, or None."""
    if not isinstance(options, dict) or options.get("scenario") not in SCENARIOS:
        return "unknown scenario %r; known: %s" % (
            options.get("scenario") if isinstance(options, dict) else options,
            ", ".join(sorted(SCENARIOS)))
    if options["scenario"] == "script":
        replies = options.get("replies")
        if not isinstance(replies, list) or not replies:
            return "script needs a non-empty list of replies"
        for r in replies:
            if not isinstance(r, dict) or set(r) - REPLY_KEYS:
                return "a script reply may only have %s" % ", ".join(sorted(REPLY_KEYS))
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    args = ap.parse_args()
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(server.server_address[1]))
        import os
        os.rename(args.port_file + ".tmp", args.port_file)
    print("fake model server on 127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
