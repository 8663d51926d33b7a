"""The simulator's own state, apart from tenant data: one row per simulated vendor."""

from django.db import models


class SimulatorState(models.Model):
    """A simulated vendor's accounts, numbers, messages and calls, as the vendor would keep them
    (pickled: softphone.simulator.state). Written by the simulator only, never by tenant code."""

    vendor = models.CharField(max_length=20, primary_key=True)
    state = models.BinaryField(default=bytes)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Simulated {self.vendor}"
