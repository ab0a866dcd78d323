#!/usr/bin/env python3
"""A scriptable SMTP server on 127.0.0.1 for the provider tests (aiosmtpd).

Binds port 0 and prints "PORT <n>" on stdout once it accepts connections.
Every accepted message is saved as <outdir>/msg-<n>.eml (the raw bytes after
dot-unstuffing) next to msg-<n>.json (envelope, peer address, auth user), the
JSON first, both by rename, so a reader that sees the .eml sees everything.

Behaviour (flags combine):
  --reject-rcpt ADDR     answer RCPT TO:<ADDR> with 550 (repeatable)
  --rcpt-reply ADDR=REPLY  answer RCPT TO:<ADDR> with this reply line, e.g.
                         "553 5.1.3 bad address" (repeatable)
  --data-reply REPLY     answer the end of every message's data with this
                         reply line instead of accepting it
  --silent-after-data    never answer the end of a message's data (the
                         client's timeout decides)
  --tempfail-data N      answer the first N DATA transactions with 451
  --drop-on mail|data    close the connection without a reply at MAIL FROM or
                         after the DATA content
  --tls-cert/--tls-key   advertise STARTTLS with this certificate
  --implicit-tls         with --tls-cert/--tls-key: TLS from the first byte
                         (SMTPS, port 465 style) instead of STARTTLS
  --auth USER:PASS       require AUTH PLAIN/LOGIN with these credentials
Stops on SIGTERM.
"""
import argparse
import asyncio
import json
import logging
import os
import signal
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, args):
        self.args = args
        self.reject = set(a.lower() for a in args.reject_rcpt)
        self.rcpt_replies = {}
        for spec in args.rcpt_reply:
            addr, reply = spec.split('=', 1)
            self.rcpt_replies[addr.lower()] = reply
        self.tempfails_left = args.tempfail_data
        self.count = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.args.drop_on == 'mail':
            server.transport.abort()
            return '421 4.3.2 dropped by test'
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return '250 2.1.0 Ok'

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.rcpt_replies:
            return self.rcpt_replies[address.lower()]
        if address.lower() in self.reject:
            return ('550 5.1.1 <%s>: Recipient address rejected: '
                    'User unknown in local recipient table' % address)
        envelope.rcpt_tos.append(address)
        return '250 2.1.5 Ok'

    async def handle_DATA(self, server, session, envelope):
        if self.args.drop_on == 'data':
            server.transport.abort()
            return '421 4.3.2 dropped by test'
        if self.args.silent_after_data:
            await asyncio.sleep(3600)
        if self.args.data_reply:
            return self.args.data_reply
        if self.tempfails_left > 0:
            self.tempfails_left -= 1
            return '451 4.3.0 Temporary local problem, please try again later'
        self.count += 1
        n = self.count
        base = os.path.join(self.args.outdir, 'msg-%d' % n)
        meta = {
            'mail_from': envelope.mail_from,
            'rcpt_tos': envelope.rcpt_tos,
            'mail_options': envelope.mail_options,
            'peer': list(session.peer[:2]) if session.peer else None,
            'auth_user': getattr(session, 'test_auth_user', None),
            'tls': server.transport.get_extra_info('ssl_object') is not None,
        }
        with open(base + '.json.tmp', 'w') as f:
            json.dump(meta, f)
        os.rename(base + '.json.tmp', base + '.json')
        with open(base + '.eml.tmp', 'wb') as f:
            f.write(envelope.original_content)
        os.rename(base + '.eml.tmp', base + '.eml')
        return '250 2.0.0 Ok: queued as TEST%d' % n


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--outdir', required=True)
    p.add_argument('--reject-rcpt', action='append', default=[])
    p.add_argument('--rcpt-reply', action='append', default=[])
    p.add_argument('--data-reply')
    p.add_argument('--silent-after-data', action='store_true')
    p.add_argument('--tempfail-data', type=int, default=0)
    p.add_argument('--drop-on', choices=['mail', 'data'])
    p.add_argument('--tls-cert')
    p.add_argument('--tls-key')
    p.add_argument('--implicit-tls', action='store_true')
    p.add_argument('--auth')
    args = p.parse_args()
    # AUTH without TLS is what the test wants; keep stderr for real problems.
    warnings.filterwarnings('ignore')
    logging.getLogger('mail.log').setLevel(logging.CRITICAL)
    os.makedirs(args.outdir, exist_ok=True)

    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)

    kwargs = {}
    if args.auth:
        user, password = args.auth.split(':', 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
                  and auth_data.password.decode() == password)
            if ok:
                session.test_auth_user = user
            return AuthResult(success=ok, handled=False)

        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=False)

    handler = Handler(args)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def factory():
        return SMTP(handler, hostname='fake-smtp.test', tls_context=None if args.implicit_tls else tls,
                    require_starttls=False, enable_SMTPUTF8=True, **kwargs)

    server = loop.run_until_complete(loop.create_server(
        factory, host='127.0.0.1', port=0, ssl=tls if args.implicit_tls else None))
    port = server.sockets[0].getsockname()[1]
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    print('PORT %d' % port, flush=True)
    loop.run_forever()
    server.close()


if __name__ == '__main__':
    sys.exit(main())
