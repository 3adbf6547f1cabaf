"""The outbox: queue an email as a row, deliver queued rows over SMTP with aiosmtplib.

Queueing happens inside the transaction of the state change that causes the email, so an email
exists exactly when its cause does. Delivery claims due rows (queued → sending), sends them with
bounded concurrency and marks each sent, or schedules a retry with exponential backoff. The
idempotency key collapses a re-queued email onto its first row; the Message-ID is fixed at queue
time so a resend after a crash is recognisable as the same message.
"""

from __future__ import annotations

import asyncio
import email.errors
import email.policy
import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from endorse import links
from endorse.db import dialect_insert
from endorse.mail import LINK_PLACEHOLDER, render
from models import (
    AdvisorPairing,
    ApplicationReviewInvitation,
    Association,
    CoordinatorAccount,
    OutboxMessage,
    Portfolio,
    ReferenceRequest,
    ReviewerConsoleLink,
    ReviewInvitation,
    record_audit,
    utcnow,
)

LINK_PURPOSE = {"rating": "rating", "review": "review", "reviewer": "reviewer", "portfolio": "portfolio",
                "appreview": "appreview", "advisor": "advisor",
                "password": "coordinator-password"}
BACKOFF_BASE_SECONDS = 30
STALE_SENDING = timedelta(minutes=10)
# The outbox runs every minute: a message still waiting this long after its due time is not being delivered.
OVERDUE_AFTER = timedelta(minutes=10)


# A list in ``session.info`` under this key collects queued emails as rows instead of inserting each (the
# sweep's batches write them with one INSERT … ON CONFLICT DO NOTHING, in the same transaction; see
# tasks/pipeline/reconcile.py). The email's id is not known then (0) and ``new`` is True: only callers
# that use neither queue into such a list.
OUTBOX_ROWS = "endorse.outbox_rows"


@dataclass(frozen=True)
class QueuedEmail:
    id: int
    message_id: str
    new: bool  # False: the same key was already queued (a re-run, or another run at the same time)


def queue_email(session: Session, *, role: str, to_email: str, to_name: str, context: dict, idempotency_key: str,
                association: str | None, application_id: str | None = None, link_kind: str | None = None,
                link_ref_id: int | None = None, templates_dir: str | None = None) -> QueuedEmail:
    """Render and queue one email in the caller's transaction; the same key twice gives the same row.

    ``new`` tells the caller whether this call queued it, so a step audits or counts only its own
    emails when two runs overlap."""
    rows = session.info.get(OUTBOX_ROWS)
    existing = None if rows is not None else session.execute(
        select(OutboxMessage.id, OutboxMessage.message_id).where(OutboxMessage.idempotency_key == idempotency_key)).first()
    if existing is not None:
        return QueuedEmail(existing.id, existing.message_id, new=False)
    assoc = session.get(Association, association) if association else None
    mail = render_for(session, role, context, association, templates_dir)
    _check_production(assoc, association, link_kind, mail)
    domain = ((assoc.sender_email or assoc.coordinator_email).split("@")[-1] if assoc else "endorse.localhost")
    row = dict(
        role=role, application_id=application_id, recipient_email=to_email, recipient_name=to_name,
        subject=mail.subject, body_text=mail.text, body_html=mail.html,
        reply_to=assoc.coordinator_email if assoc else None, association_code=assoc.code if assoc else None,
        message_id=make_msgid(idstring=hashlib.sha256(idempotency_key.encode()).hexdigest()[:16], domain=domain),
        idempotency_key=idempotency_key, link_kind=link_kind, link_ref_id=link_ref_id, status="queued",
        attempts=0, next_attempt_at=utcnow(), created_at=utcnow(),
    )
    if rows is not None:
        rows.append(row)
        return QueuedEmail(0, row["message_id"], new=True)
    return insert_if_absent(session, row)


def insert_all_if_absent(session: Session, rows: list[dict], *, count: bool = False) -> int | None:
    """Many queued emails in one statement; a key already queued keeps its first row. With ``count``,
    returns how many this call queued (a run alongside may have queued some of the same keys first);
    without it the rows go in by the driver's executemany, nothing read back."""
    if not rows:
        return 0 if count else None
    stmt = dialect_insert(session)(OutboxMessage).on_conflict_do_nothing(index_elements=["idempotency_key"])
    if not count:
        session.execute(stmt, rows)
        return None
    return len(session.execute(stmt.returning(OutboxMessage.id), rows).all())


def render_for(session: Session, role: str, context: dict, association: str | None,
               templates_dir: str | None = None):
    """An email exactly as ``queue_email`` would queue it (a preview renders it the same way)."""
    assoc = session.get(Association, association) if association else None
    return render(role, {**profile_context(assoc), **context}, association=association, templates_dir=templates_dir)


def insert_if_absent(session: Session, row: dict) -> QueuedEmail:
    """INSERT … ON CONFLICT (idempotency_key) DO NOTHING: two runs queueing the same email at once
    leave one row and no error (on PostgreSQL the second waits for the first to commit)."""
    stmt = (dialect_insert(session)(OutboxMessage).values(**row).on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(OutboxMessage.id))
    new_id = session.execute(stmt).scalar()
    if new_id is not None:
        return QueuedEmail(new_id, row["message_id"], new=True)
    kept = session.execute(select(OutboxMessage.id, OutboxMessage.message_id)
                           .where(OutboxMessage.idempotency_key == row["idempotency_key"])).one()
    return QueuedEmail(kept.id, kept.message_id, new=False)


def profile_context(assoc: Association | None) -> dict:
    """What every template may use about the association writing (from its profile)."""
    if assoc is None:
        return {"association_name": "Endorsement", "association_short_name": "Endorsement",
                "coordinator_name": "the coordinator", "coordinator_email": "", "signature": "The Endorsement team",
                "association_phone": None, "association_website": None}
    return {"association_name": assoc.name, "association_short_name": assoc.short_name or assoc.code,
            "coordinator_name": assoc.coordinator_name, "coordinator_email": assoc.coordinator_email,
            "association_phone": assoc.phone, "association_website": assoc.website,
            "signature": assoc.signature or f"The Endorsement® coordinator\n{assoc.name}"}


def _check_production(assoc: Association | None, association: str | None, link_kind: str | None, mail) -> None:
    from endorse.profiles import refuse_in_production
    from endorse.settings import get_settings

    settings = get_settings()
    if settings.env != "production":
        return
    base = ((assoc.public_base_url if assoc else None) or settings.public_base_url) if link_kind else None
    refuse_in_production(association=association, has_profile=assoc is not None and assoc.profile_digest is not None,
                         link_base=base, texts=(mail.text, mail.html))


# --- delivery -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    tls: str = "none"  # none | starttls | tls
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0
    mail_from: str = "endorsement@localhost"

    @classmethod
    def from_settings(cls, settings) -> "SmtpConfig":
        return cls(host=settings.smtp_host, port=settings.smtp_port, tls=settings.smtp_tls,
                   username=settings.smtp_username,
                   password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                   timeout=settings.smtp_timeout_seconds, mail_from=settings.mail_from)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def client(self):
        import aiosmtplib

        return aiosmtplib.SMTP(hostname=self.host, port=self.port, use_tls=self.tls == "tls",
                               start_tls=True if self.tls == "starttls" else False, timeout=self.timeout)


async def send_now(smtp: SmtpConfig, em: EmailMessage) -> None:
    """One message straight to the server (``endorse setup``'s check of the SMTP settings)."""
    client = smtp.client()
    await client.connect()
    try:
        if smtp.username:
            await client.login(smtp.username, smtp.password or "")
        await client.send_message(em)
        await client.quit()
    except BaseException:
        client.close()
        raise


@dataclass(frozen=True)
class DeliveryReport:
    claimed: int
    sent: int
    retried: int
    failed: int
    # Set when the mail server could not be reached at all (nothing was sent because of it).
    unreachable: str | None = None


def _link_for(session: Session, msg: OutboxMessage, secret_key: str, base_url: str) -> str | None:
    """Rebuild the secure link at send time from its nonce (the token itself is never stored)."""
    if msg.link_kind == "rating":
        row = session.get(ReferenceRequest, msg.link_ref_id)
        path = "/rate/"
    elif msg.link_kind == "review":
        row = session.get(ReviewInvitation, msg.link_ref_id)
        path = "/review/"
    elif msg.link_kind == "reviewer":  # the reviewer's console: same pages, every sitting
        row = session.get(ReviewerConsoleLink, msg.link_ref_id)
        path = "/review/"
    elif msg.link_kind == "appreview":
        row = session.get(ApplicationReviewInvitation, msg.link_ref_id)
        path = "/review/application/"
    elif msg.link_kind == "advisor":
        row = session.get(AdvisorPairing, msg.link_ref_id)
        path = "/advise/"
    elif msg.link_kind == "portfolio":  # an applicant's own portfolio (tasks/portal)
        row = session.get(Portfolio, msg.link_ref_id)
        path = "/apply/"
    elif msg.link_kind == "password":  # sets a coordinator's password (tasks/coordination/accounts.py)
        row = session.get(CoordinatorAccount, msg.link_ref_id)
        path = "/coordinator/login/password/"
    else:
        return None
    if row is None or row.token_nonce is None:
        return None
    return base_url.rstrip("/") + path + links.token_for(row.token_nonce, secret_key, LINK_PURPOSE[msg.link_kind])


class _HeaderClasses(HeaderRegistry):
    """The standard header registry, but each header's class made once: the email package builds a
    new class for every header it sets or reads (type(...) in HeaderRegistry.__getitem__), a fifth of
    building a message. The headers themselves are the same."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


_POLICY = email.policy.default.clone(header_factory=_HeaderClasses())


def build_message(msg: OutboxMessage, link: str | None, mail_from: str, time_zone: str | None = None) -> EmailMessage:
    em = EmailMessage(policy=_POLICY)
    em["From"] = mail_from
    em["To"] = formataddr((msg.recipient_name, msg.recipient_email))
    if msg.reply_to:
        em["Reply-To"] = msg.reply_to
    em["Subject"] = msg.subject
    em["Message-ID"] = msg.message_id
    # The association's clock: a coordinator in Oregon reads the time they would have written.
    em["Date"] = format_datetime(datetime.now(ZoneInfo(time_zone) if time_zone else timezone.utc))
    em["X-Endorse-Role"] = msg.role
    text, html = msg.body_text, msg.body_html
    if link is not None:
        text, html = text.replace(LINK_PLACEHOLDER, link), html.replace(LINK_PLACEHOLDER, link)
    em.set_content(text)
    em.add_alternative(html, subtype="html")
    return em


def claim_due(sessions: sessionmaker[Session], limit: int, now: datetime | None = None) -> list[int]:
    """Mark up to ``limit`` due messages as 'sending' and return their ids (one transaction)."""
    now = now or utcnow()
    with sessions.begin() as s:
        # A message left in 'sending' by a process that died is due again after a while.
        s.execute(update(OutboxMessage).where(OutboxMessage.status == "sending",
                                              OutboxMessage.next_attempt_at < now - STALE_SENDING)
                  .values(status="queued"))
        ids = list(s.scalars(select(OutboxMessage.id).where(OutboxMessage.status == "queued",
                                                           OutboxMessage.next_attempt_at <= now)
                             .order_by(OutboxMessage.id).limit(limit).with_for_update(skip_locked=True)))
        if ids:
            s.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(status="sending", next_attempt_at=now))
    return ids


async def deliver_due(sessions: sessionmaker[Session], smtp: SmtpConfig, *, secret_key: str, base_url: str,
                      concurrency: int = 20, max_attempts: int = 6, limit: int = 10_000,
                      connection_per_message: bool = False) -> DeliveryReport:
    """Send every due message once, with at most ``concurrency`` SMTP sessions at a time."""
    import aiosmtplib

    ids = claim_due(sessions, limit)
    if not ids:
        return DeliveryReport(0, 0, 0, 0)
    counts = {"sent": 0, "retried": 0, "failed": 0}
    prepared = []
    with sessions() as s:
        rows = {m.id: m for m in s.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))}
        senders = {a.code: a for a in s.scalars(select(Association).where(
            Association.code.in_({m.association_code for m in rows.values() if m.association_code})))}
        unbuildable = []
        for i in ids:
            assoc = senders.get(rows[i].association_code)
            # The association's profile gives the sender and where its links point; else the deployment's.
            sender = formataddr((assoc.sender_name or "", assoc.sender_email)) if assoc and assoc.sender_email \
                else smtp.mail_from
            link_base = (assoc.public_base_url if assoc else None) or base_url
            # Each message is built on its own: one that cannot be (a line break in a header, say) fails
            # alone with its reason, and every other message still goes out.
            try:
                prepared.append((i, build_message(rows[i], _link_for(s, rows[i], secret_key, link_base), sender,
                                                  assoc.timezone if assoc and assoc.profile_digest else None)))
            except UNBUILDABLE as exc:
                unbuildable.append((i, f"{PERMANENT}cannot build the message: {type(exc).__name__}: {exc}"[:500]))
    for outcome in _record_outcomes(sessions, unbuildable, max_attempts):
        counts[outcome] += 1
    recorder = _Recorder(sessions, max_attempts, counts)
    queue: asyncio.Queue = asyncio.Queue()
    for item in prepared:
        queue.put_nowait(item)
    unreachable: list[str] = []

    async def worker() -> None:
        # Each worker keeps one SMTP session open and sends many messages through it.
        client: aiosmtplib.SMTP | None = None
        while not queue.empty():
            msg_id, em = queue.get_nowait()
            error = None
            try:
                if client is None:
                    client = smtp.client()
                    try:
                        await client.connect()
                    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError, OSError) as exc:
                        unreachable.append(str(exc))
                        raise
                    if smtp.username:
                        await client.login(smtp.username, smtp.password or "")
                await client.send_message(em)
                if connection_per_message:  # the naive way, kept for the benchmark's baseline
                    await client.quit()
                    client = None
            except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError, *UNBUILDABLE) as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
                # A 5xx reply (unknown mailbox, refused recipient) will not get better by retrying, nor will
                # a message that cannot be serialised.
                code = getattr(exc, "code", None)
                if isinstance(exc, (aiosmtplib.SMTPRecipientsRefused, *UNBUILDABLE)) or \
                        (isinstance(code, int) and 500 <= code < 600):
                    error = PERMANENT + error
                if client is not None:
                    client.close()
                client = None  # a fresh session for the next message
            # Recorded before this session sends again: a crash later in the batch must not make this one
            # look unsent (at most one message per session is ever sent and not yet recorded).
            await recorder.record(msg_id, error)
        if client is not None:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()

    if prepared:
        await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(prepared))))))
    return DeliveryReport(len(ids), counts["sent"], counts["retried"], counts["failed"],
                          unreachable=unreachable[0] if unreachable and not counts["sent"] else None)


class _Recorder:
    """Outcomes written together (group commit). A session waits for its message's outcome to be
    written before it sends another, so a crash can resend at most one message per session, as
    before; but the outcomes that arrive while a transaction is being written share the next one.
    A transaction per message cost more than the sending: 20 sessions sent 1,000 messages slower
    than one session did, each commit holding up every session (the loop waits on the database)."""

    def __init__(self, sessions: sessionmaker[Session], max_attempts: int, counts: dict[str, int]):
        self.sessions, self.max_attempts, self.counts = sessions, max_attempts, counts
        self.waiting: list[tuple[int, str | None, asyncio.Future]] = []
        self.writer: asyncio.Task | None = None

    async def record(self, msg_id: int, error: str | None) -> None:
        done = asyncio.get_running_loop().create_future()
        self.waiting.append((msg_id, error, done))
        if self.writer is None or self.writer.done():
            self.writer = asyncio.ensure_future(self._write())
        await done

    async def _write(self) -> None:
        await asyncio.sleep(0)  # the sessions whose replies came in with this one add theirs first
        while self.waiting:
            batch, self.waiting = self.waiting, []
            try:
                outcomes = _record_outcomes(self.sessions, [(i, e) for i, e, _ in batch], self.max_attempts)
            except Exception as exc:  # nothing of the batch was written: each session fails with it
                for _, _, done in batch:
                    done.set_exception(exc)
                continue
            for (_, _, done), outcome in zip(batch, outcomes):
                self.counts[outcome] += 1
                done.set_result(outcome)


def _record_outcomes(sessions: sessionmaker[Session], outcomes: list[tuple[int, str | None]],
                     max_attempts: int) -> list[str]:
    """Each message's outcome (None: sent, else the error), all in one transaction; 'sent', 'retried'
    or 'failed' for each."""
    if not outcomes:
        return []
    now = utcnow()
    result = []
    with sessions.begin() as s:
        sent = [i for i, error in outcomes if error is None]
        if sent:
            # A single UPDATE for every message sent: the common path stays cheap.
            s.execute(update(OutboxMessage).where(OutboxMessage.id.in_(sent))
                      .values(status="sent", sent_at=now, last_error=None, attempts=OutboxMessage.attempts + 1))
        for msg_id, error in outcomes:
            result.append("sent" if error is None else _record_error(s, msg_id, error, max_attempts, now))
    return result


def _record_error(s: Session, msg_id: int, error: str, max_attempts: int, now: datetime) -> str:
    m = s.get(OutboxMessage, msg_id)
    m.attempts += 1
    if m.attempts >= max_attempts or _permanent(error):
        m.status, m.last_error = "failed", error
        record_audit(s, actor="system", action="email.failed", entity_type="outbox_message", entity_id=m.id,
                     application_id=m.application_id, role=m.role, error=error)
        return "failed"
    delay = BACKOFF_BASE_SECONDS * 2 ** (m.attempts - 1) * (1 + random.random() / 4)
    m.status, m.last_error, m.next_attempt_at = "queued", error, now + timedelta(seconds=delay)
    return "retried"


PERMANENT = "permanent: "
# What the email package raises for a message it cannot build or serialise (UnicodeError is a ValueError).
UNBUILDABLE = (ValueError, TypeError, email.errors.MessageError)


def _permanent(error: str) -> bool:
    return error.startswith(PERMANENT)
