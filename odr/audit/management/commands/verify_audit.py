from django.core.management.base import BaseCommand, CommandError

from odr.audit.checkpoints import CheckpointError, checkpoints_verify, load_public_keys
from odr.audit.services import audit_verify
from odr.consent.keys import public_jwks


class Command(BaseCommand):
    help = (
        "Verify the audit trail's hash chains (D34), every chain against its head; exits non-zero at "
        "the first problem, naming the case and what is wrong."
    )

    def add_arguments(self, parser):
        parser.add_argument("--case", dest="case", help="Only the chain of this case reference.")
        parser.add_argument(
            "--jobs",
            type=int,
            default=1,
            help="Check the chains in this many processes (disjoint ranges of cases, one connection each).",
        )
        parser.add_argument(
            "--since-checkpoint",
            action="store_true",
            help=(
                "Only the events added since the last signed checkpoint, each chain from its "
                "checkpointed hash (the heads' checkpointed points, which only the checkpoint writer "
                "can move on PostgreSQL). A fast daily check: pair it with --checkpoint against the "
                "published checkpoint files, which holds those points to what was signed."
            ),
        )

        parser.add_argument(
            "--checkpoint",
            nargs="+",
            metavar="FILE",
            help=(
                "Signed checkpoint files (.jws) or directories of them: verify their signatures, their "
                "chain, and that the database's chains still hold every checkpointed head."
            ),
        )
        parser.add_argument(
            "--keys",
            metavar="FILE",
            help=(
                "The public key(s) checkpoints are verified with: a JWK Set (/.well-known/jwks.json) or "
                "one public JWK. Default: this installation's own public keys."
            ),
        )

    def handle(self, *args, case=None, jobs=1, since_checkpoint=False, checkpoint=None, keys=None, **options):
        if jobs < 1:
            raise CommandError("--jobs must be at least 1.")
        if checkpoint:
            self._checkpoints(checkpoint, keys)
        result = audit_verify(stream=case, jobs=jobs, since_checkpoint=since_checkpoint)
        if not result.ok:
            event = result.broken_event
            where = f"event {event.stream} #{event.seq}"
            if event.pk is not None:
                where += f" ({event.kind}, id {event.pk})"
            elif event.seq:
                where = f"chain {event.stream} (head #{event.seq})"
            raise CommandError(
                f"BROKEN: {where}: {result.problem}. {result.checked} event(s) before it verified."
            )
        if case and result.checked == 0:
            raise CommandError(f"No audit events for case {case}.")
        scope = "added since the last checkpoint " if since_checkpoint else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"OK: {result.checked} event(s) {scope}in {result.streams} chain(s) verified, "
                "every chain unbroken and matching its head."
            )
        )

    def _checkpoints(self, paths, keys_file):
        try:
            if keys_file:
                keys = load_public_keys(keys_file)
            else:
                keys = {key["kid"]: key for key in public_jwks()["keys"]}
            report = checkpoints_verify(paths, keys)
        except CheckpointError as error:
            raise CommandError(f"BROKEN: {error}.") from error
        self.stdout.write(
            self.style.SUCCESS(
                f"OK: checkpoints #{report.first}–#{report.last} signed and chained, "
                f"{report.heads} checkpointed head(s) still in their chains."
            )
        )
