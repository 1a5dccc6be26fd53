"""mailbox: reading the messages the stack's SMTP sink kept (Python 3 standard library only).

The sink (scripts/stack, aiosmtpd's Mailbox handler) writes every message it accepts, as
one file, into the Maildir MAIL_DIR of `scripts/stack paths` (var/mail/ of the stack):
new/ (cur/ once a reader moved it). The sink adds X-Peer, X-MailFrom and X-RcptTo (the
envelope) to each.

    messages(mail_dir, to=None)        every message, oldest first (newest last)
    wait_for(mail_dir, to, count=1, timeout=10)   the first `count` messages to `to`
    link(msg, path_prefix)             the URL on a line of its own in the body
    token_of(url)                      its ?token=
    text_of(msg)                       the body as text (transfer encoding undone)

A message is an email.message.EmailMessage (policy default): msg["Subject"] is the
decoded subject, msg["To"] the address, msg.get_all("Bcc") what a header injection
would have added.
"""

import email
import email.policy
import email.utils
import os
import time
import urllib.parse

__all__ = ["messages", "wait_for", "link", "token_of", "text_of"]


def _files(mail_dir):
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(mail_dir, sub)
        try:
            names = os.listdir(d)
        except FileNotFoundError:
            continue
        for name in names:
            if name.startswith("."):
                continue
            path = os.path.join(d, name)
            try:
                st = os.stat(path)
            except FileNotFoundError:  # moved between listdir and stat
                continue
            # a Maildir name begins with the delivery time (seconds, M microseconds) and
            # ends with the writer's counter (Q): they order the messages as they came
            out.append((_name_key(name), st.st_mtime_ns, path))
    out.sort()
    return [p for _, _, p in out]


def _name_key(name):
    """(seconds, microseconds, Q counter) of a Maildir file name such as
    1796285089.M928639P29209Q1.vm (0 for what is missing)."""
    head, _, rest = name.partition(".")

    def number_after(mark):
        i = rest.find(mark)
        digits = ""
        for ch in rest[i + 1:] if i >= 0 else "":
            if not ch.isdigit():
                break
            digits += ch
        return int(digits or 0)

    return (int(head) if head.isdigit() else 0, number_after("M"), number_after("Q"))


def _address_of(value):
    """The bare address of a To value ("Name <a@b>" or "a@b"), lower-cased."""
    _, addr = email.utils.parseaddr(str(value or ""))
    return addr.lower()


def messages(mail_dir, to=None):
    """Every message in mail_dir's new/ and cur/, oldest first; only those To `to` (an
    address, compared without case) if given. Unreadable files are skipped."""
    want = to.lower() if to else None
    out = []
    for path in _files(mail_dir):
        try:
            with open(path, "rb") as fh:
                msg = email.message_from_binary_file(fh, policy=email.policy.default)
        except (FileNotFoundError, PermissionError):
            continue
        if want is not None and _address_of(msg["To"]) != want:
            continue
        out.append(msg)
    return out


def wait_for(mail_dir, to, count=1, timeout=10):
    """The first `count` messages To `to`, waiting up to `timeout` seconds for them to
    arrive (orgd delivers from its outbox after the request has answered). Raises
    AssertionError with what did arrive if they do not."""
    deadline = time.monotonic() + timeout
    while True:
        got = messages(mail_dir, to)
        if len(got) >= count:
            return got[:count]
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"{len(got)} of {count} messages to {to} arrived within {timeout} s "
                f"(subjects: {[str(m['Subject']) for m in got]})")
        time.sleep(0.05)


def text_of(msg):
    """The body of a text/plain message as text: quoted-printable or base64 undone,
    decoded with its charset."""
    part = msg.get_body(preferencelist=("plain",)) if msg.is_multipart() else msg
    return part.get_content()


def link(msg, path_prefix):
    """The URL on a line of its own in the body that starts with path_prefix (e.g.
    "http://127.0.0.1:18080/verify-email?token="). Raises AssertionError unless there is
    exactly one."""
    found = [line.strip() for line in text_of(msg).splitlines()
             if line.strip().startswith(path_prefix) and " " not in line.strip()]
    if len(found) != 1:
        raise AssertionError(f"{len(found)} lines start with {path_prefix!r} in the message "
                             f"{str(msg['Subject'])!r}")
    return found[0]


def token_of(url):
    """The token= query parameter of url (exactly one)."""
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query, keep_blank_values=True)
    tokens = q.get("token", [])
    if len(tokens) != 1:
        raise AssertionError(f"{len(tokens)} token parameters in {url!r}")
    return tokens[0]


if __name__ == "__main__":
    import sys

    # python3 tests/integration/mailbox.py MAIL_DIR [TO]: one line per message
    for m in messages(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None):
        print(f"{m['Date']} | {m['To']} | {m['Subject']}")
