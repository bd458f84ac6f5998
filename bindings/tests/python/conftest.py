"""Shared fixtures: a capturing Python Mailer and an Auth on a fresh SQLite file."""

import os
import threading

import pytest

import monban


class Inbox(monban.Mailer):
    """A Mailer that keeps every mail, as the person reading them would."""

    def __init__(self) -> None:
        self._mails: list = []
        self.fail = False
        self._lock = threading.Lock()
        # The Auth whose courier delivers here: reading the inbox first lets it deliver what is
        # queued (M-4), as a person would wait for the mail to arrive.
        self.auth: "monban.Auth | None" = None

    def send(self, mail: monban.MailMessage) -> None:
        if self.fail:
            raise RuntimeError("smtp down")
        with self._lock:
            self._mails.append(mail)

    @property
    def mails(self) -> list:
        if self.auth is not None and not self.auth.closed:
            self.auth.deliver_pending()
        with self._lock:
            return list(self._mails)

    def last(self, to: str, kind: monban.MailKind) -> monban.MailMessage:
        for mail in reversed(self.mails):
            if mail.to == to and mail.kind == kind:
                return mail
        raise AssertionError(f"no {kind} mail to {to} in {[(m.to, m.kind) for m in self.mails]}")

    def secret(self, to: str, kind: monban.MailKind) -> str:
        value = monban.extract_secret(self.last(to, kind))
        assert value, f"a secret in the {kind} mail to {to}"
        return value


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


def open_auth(tmp_path, preset: str, inbox: Inbox) -> monban.Auth:
    policy = monban.Policy.preset(preset).with_test_hashing()
    auth = monban.Auth.open(os.path.join(str(tmp_path), "monban.db"), policy, inbox)
    inbox.auth = auth
    return auth


def failure(excinfo) -> str:
    """The stable code of a MonbanError, checked to be raised as the class of that code."""
    err = excinfo.value
    assert isinstance(err, monban.MonbanError), err
    assert type(err) is monban._errors.ERRORS[err.code], (type(err), err.code)
    return err.code.value
