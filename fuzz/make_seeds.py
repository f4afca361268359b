#!/usr/bin/env python3
"""Regenerates the seed corpora in fuzz/corpus/ (committed; run by hand).

    fuzz/make_seeds.py BUILD_DIR      (a normal build with tests: BUILD_DIR/tests/fuzz_replay)

fuzz_engine: the event files (examples/demo.jsonl, tests/data/*.jsonl) as raw
  records (one per line, packed by `fuzz_replay --pack` with the real JSON
  adapter), one seed per file, all of them together, and a few structured
  records streams.
fuzz_json: every line of those files, the alert lines the engine raises on
  them (`fuzz_replay --alerts`), and a few packed Envelopes and Alerts.
fuzz_config: examples/touchpointd.yaml, the embedded default, and the YAML
  texts of the unit tests (C string literals in tests/*.c), good and bad.
Also the dictionaries fuzz_json.dict (from the .proto files) and
fuzz_config.dict (from daemon/config/tp_config_keys.c); fuzz_engine.dict is by hand.

Files this script did not write (regress-*) are left alone; the ones it
writes are replaced.
"""
import glob
import os
import random
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
EVENT_FILES = [os.path.join(ROOT, "examples", "demo.jsonl")] + sorted(
    glob.glob(os.path.join(ROOT, "tests", "data", "*.jsonl")))


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def clean(target):
    d = os.path.join(CORPUS, target)
    for f in glob.glob(os.path.join(d, "*")):
        if not os.path.basename(f).startswith("regress-"):
            os.remove(f)


def replay(args, stdin=b""):
    return subprocess.run([REPLAY] + args, input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, check=True).stdout


def records(blob):
    """Splits `fuzz_replay --pack` output into (op, payload) records."""
    out, i = [], 0
    while i + 3 <= len(blob):
        n = blob[i + 1] << 8 | blob[i + 2]
        out.append((blob[i], blob[i + 3:i + 3 + n]))
        i += 3 + n
    return out


def structured(seed, n):
    """A stream of structured records (see tp_fuzz_drive in tp_fuzz.h)."""
    rnd, out = random.Random(seed), bytearray()
    for _ in range(n):
        kind = rnd.choice([0, 0, 0, 1, 1, 1, 2, 3])
        body = bytearray(rnd.getrandbits(8) for _ in range(16))
        body[0] = 0xFF if rnd.random() < 0.05 else 0      # mostly fresh event ids
        body[2] &= 0x07                                   # mostly in-order sequences
        dt = rnd.choice([0, 6, 12, 48, 288, 600])           # time steps of 5 minutes
        body[3], body[4] = dt >> 8, dt & 0xFF
        out += bytes([0x80 | kind, 0, len(body)]) + body
    return bytes(out)


def engine_seeds():
    clean("fuzz_engine")
    everything = b""
    for path in EVENT_FILES:
        name = os.path.splitext(os.path.basename(path))[0]
        with open(path, "rb") as f:
            packed = replay(["--pack"], f.read())
        write("fuzz_engine", "seed-%s" % name, packed)
        everything += packed
    write("fuzz_engine", "seed-all", everything)
    for i in range(4):
        write("fuzz_engine", "seed-structured-%d" % i, structured(i, 40))


def json_seeds():
    clean("fuzz_json")
    alerts = []
    for path in EVENT_FILES:
        name = os.path.splitext(os.path.basename(path))[0]
        with open(path, "rb") as f:
            text = f.read()
        for i, line in enumerate(text.splitlines(), 1):
            write("fuzz_json", "line-%s-%02d.json" % (name, i), line + b"\n")
        for op, payload in records(replay(["--pack"], text))[:3]:
            write("fuzz_json", "wire-%s-%d.bin" % (name, op), payload)
        for line in replay(["--alerts"], text).splitlines():
            if line not in alerts:
                alerts.append(line)
    for i, line in enumerate(alerts, 1):
        write("fuzz_json", "alert-%02d.json" % i, line + b"\n")


C_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


def c_unescape(s):
    return (s.encode("latin-1", "backslashreplace").decode("unicode_escape")
            .encode("latin-1", "replace"))


def test_yaml_texts(path):
    """YAML texts in a C file: runs of adjacent string literals with a newline."""
    with open(path, encoding="utf-8") as f:
        src = f.read()
    texts, run, last_end = [], [], None
    for m in C_STRING.finditer(src):
        between = src[last_end:m.start()] if last_end is not None else None
        if run and between is not None and between.strip() == "":
            run.append(m.group(1))
        else:
            if run:
                texts.append(c_unescape("".join(run)))
            run = [m.group(1)]
        last_end = m.end()
    if run:
        texts.append(c_unescape("".join(run)))
    return [t for t in texts if b"\n" in t and b":" in t and b"%" not in t]


def config_seeds():
    clean("fuzz_config")
    with open(os.path.join(ROOT, "examples", "touchpointd.yaml"), "rb") as f:
        write("fuzz_config", "example.yaml", f.read())
    write("fuzz_config", "default.yaml", replay(["--default-config"]))
    seen = set()
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "*", "test_*.c"))):
        if path.endswith(("test_json.c",)) or os.path.basename(path).startswith("test_tp_"):   # JSON texts, not configs
            continue
        name = os.path.splitext(os.path.basename(path))[0]
        for i, text in enumerate(test_yaml_texts(path), 1):
            if text not in seen:
                seen.add(text)
                write("fuzz_config", "%s-%02d.yaml" % (name, i), text)


def dict_entry(tok):
    """One libFuzzer dictionary line: printable ASCII, the rest as \\xNN."""
    out = ""
    for b in tok.encode():
        c = chr(b)
        out += "\\" + c if c in '"\\' else c if 0x20 <= b < 0x7f else "\\x%02x" % b
    return '"%s"' % out


def write_dict(name, comment, tokens):
    seen, lines = set(), ["# " + c for c in comment]
    for t in tokens:
        if t not in seen:
            seen.add(t)
            lines.append(dict_entry(t))
    with open(os.path.join(ROOT, "fuzz", name), "w") as f:
        f.write("\n".join(lines) + "\n")


def camel(name):
    parts = name.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def json_dict():
    proto = ""
    for p in ("events", "alert"):
        with open(os.path.join(ROOT, "proto", "touchpoint", "v1", p + ".proto")) as f:
            proto += f.read()
    fields = sorted(set(re.findall(
        r"^\s+(?:repeated\s+|map<[^>]+>\s+)?\w+\s+(\w+)\s*=\s*\d+;", proto, re.M)))
    enums = re.findall(r"^\s+([A-Z][A-Z_]+)\s*=\s*\d+;", proto, re.M)
    prefixes = re.findall(r"^enum (\w+)", proto, re.M)
    prefixes = [re.sub(r"(?<!^)([A-Z])", r"_\1", e).upper() + "_" for e in prefixes]
    toks = []
    for f in fields:
        toks += ['"%s":' % f, '"%s":' % camel(f)]
    for e in enums:
        toks.append('"%s"' % e)
        toks += ['"%s"' % e[len(p):] for p in prefixes if e.startswith(p)]
    toks += ["{", "}", "[", "]", ":", ",", "null", "true", "false", '"', "\\u0000", "\\ud800",
             '\\"', "1e3", "-1", "1.5", "2147483648", '"9223372036854775807"',
             '"-9223372036854775808"', '"18446744073709551615"', '"topic":',
             '"accountability.call_incomplete"', '"friction.step_slow"', "{}", "[]"]
    write_dict("fuzz_json.dict", ["fuzz_json: proto3 JSON of the contract (made by make_seeds.py)."],
               toks)


def config_dict():
    with open(os.path.join(ROOT, "daemon", "tp_config_keys.c")) as f:
        src = f.read()
    paths = re.findall(r'K[DUI]?\("([a-z_.]+)"', src) + re.findall(r'KEY\(\w+, "([a-z_.]+)"', src)
    names = re.findall(r'"([A-Z_]{2,}|[a-z_]+)"', src[:src.index("#define KEY")])
    toks = [part + ":" for p in paths for part in p.split(".")] + names
    toks += ["true", "false", "null", "~", "FMV_REVIEW", "qualtrics-eu:", "ms", "s", "m", "h", "d",
             "w", "48h", "7d", "0ms", "3650d", "3651d", "9223372036854775807", "-1", "0x10",
             "tcp://127.0.0.1:7601", "ipc:///tmp/x", "inproc://x", "- ", "{ ", " }", "[", "]",
             ": ", ", ", "\n", "\n  ", "\n    ", "&a ", "*a", "<<: ", "!!str ", "!!map ", "---\n",
             "...\n", '"', "'", "|\n", ">\n", "#", "%YAML 1.1\n", "\t", "\x00"]
    write_dict("fuzz_config.dict",
               ["fuzz_config: touchpointd.yaml keys, values and YAML syntax (made by make_seeds.py)."],
               toks)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    REPLAY = os.path.join(sys.argv[1], "tests", "fuzz_replay")
    engine_seeds()
    json_seeds()
    config_seeds()
    json_dict()
    config_dict()
