from django.core.management.base import BaseCommand, CommandError

from softphone.secrets import reencrypt_all


class Command(BaseCommand):
    help = (
        "Re-encrypt every secret of every organization under the first key in FERNET_KEYS, then check that "
        "the first key alone reads every one. Rotation: put the new key first, keep the old ones after it, "
        "run this, and drop the old keys only once it succeeds."
    )

    def handle(self, *args, **options):
        report = reencrypt_all()
        for label, count in report.rewritten.items():
            older = report.from_older_key[label]
            self.stdout.write(f"{label}: {count} row(s) re-encrypted ({older} of them were under an older key)")
        self.stdout.write(f"{report.verified} secret(s) read back with the first key alone.")
        if report.unreadable:
            names = "\n".join(f"  {secret}" for secret in report.unreadable)
            raise CommandError(
                f"{len(report.unreadable)} stored secret(s) cannot be decrypted with any key in FERNET_KEYS and "
                f"were left unchanged:\n{names}\nAdd the key they were encrypted with and run this again; do not "
                "drop any key until this command succeeds."
            )
        self.stdout.write(self.style.SUCCESS("All secrets are encrypted under the first key."))
