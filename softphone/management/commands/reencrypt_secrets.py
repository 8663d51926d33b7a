from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError

from softphone.secrets import reencrypt_all


class Command(BaseCommand):
    help = (
        "Re-encrypt every secret under the first key in FERNET_KEYS. Rotation: put the new key first, "
        "keep the old ones after it, run this, then drop the old keys."
    )

    def handle(self, *args, **options):
        try:
            counts = reencrypt_all()
        except InvalidToken:
            raise CommandError(
                "A stored secret cannot be decrypted with any key in FERNET_KEYS; nothing was changed. "
                "Add the key it was encrypted with and run this again."
            ) from None
        for label, count in counts.items():
            self.stdout.write(f"{label}: {count} row(s) re-encrypted")
        self.stdout.write(self.style.SUCCESS("All secrets are encrypted under the first key."))
