"""Helpers shared by the table generators in tools/ (stdlib only).

Reading the official R4 package and writing C string literals the same way
in every generated file keeps the generated sources consistent.
"""
import json
import os
import sys


def die(msg):
    """Stops the generator with a message naming it."""
    sys.stderr.write("%s: %s\n" % (os.path.basename(sys.argv[0]).rsplit(".", 1)[0], msg))
    sys.exit(1)


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def c_str(s):
    """A C string literal for s: printable ASCII as is, the rest as octal UTF-8 bytes."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= o < 127:
            out.append(ch)
        else:
            for b in ch.encode("utf-8"):
                out.append("\\%03o" % b)
    out.append('"')
    return "".join(out)
