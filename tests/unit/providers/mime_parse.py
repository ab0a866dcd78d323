# Parses an RFC 5322 message with Python's email package (policy.default,
# strict decoding) and prints what the C++ test checks, as JSON.
import json
import sys
from email import policy
from email.parser import BytesParser

raw = open(sys.argv[1], 'rb').read()
m = BytesParser(policy=policy.default).parsebytes(raw)


def part(p):
    text = p.get_content() if p.get_content_maintype() == 'text' else None
    return {'type': p.get_content_type(), 'charset': p.get_content_charset(),
            'cte': p.get('Content-Transfer-Encoding'), 'content': text,
            'defects': [type(d).__name__ for d in p.defects]}


def addrs(name):
    h = m[name]
    if h is None:
        return []
    return [[a.display_name, a.addr_spec] for a in h.addresses]


print(json.dumps({
    'headers': [[k, str(v)] for k, v in m.items()],
    'defects': [type(d).__name__ for d in m.defects],
    'type': m.get_content_type(),
    'parts': [part(p) for p in m.walk() if not p.is_multipart()],
    'from': addrs('From'), 'to': addrs('To'),
    'subject': str(m['Subject']) if m['Subject'] is not None else None,
}))
