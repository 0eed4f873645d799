"""Two library notes no user can act on, kept off every run's console (neither says anything about the run).

- Lightning's tip to install its cloud logger (an info line each time a Trainer is built);
- torch's FutureWarning that ``LeafSpec`` is deprecated, raised inside Lightning's own code
  (lightning/pytorch/utilities/_pytree.py) at every fit: the libraries' to change, not ours or the user's.
Everything else either library says still reaches the console.
"""

from __future__ import annotations

import logging
import warnings

LIGHTNING_INFO = "lightning.pytorch.utilities.rank_zero"  # the logger Lightning's rank-zero info lines go through
ADVERT = "litlogger"  # a word only the cloud-logger tip holds
LEAFSPEC_NOTE = r"`isinstance\(treespec, LeafSpec\)` is deprecated"  # torch's wording, matched from its start


class WithoutAdvert(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return ADVERT not in str(record.msg)


def hush_library_notes() -> None:
    """Idempotent: the filter is added once, and warnings.filterwarnings replaces an identical entry."""
    warnings.filterwarnings("ignore", message=LEAFSPEC_NOTE, category=FutureWarning)
    lightning_info = logging.getLogger(LIGHTNING_INFO)
    if not any(isinstance(existing, WithoutAdvert) for existing in lightning_info.filters):
        lightning_info.addFilter(WithoutAdvert())
