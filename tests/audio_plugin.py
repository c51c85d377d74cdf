"""The tiny RVQ test family as a ``CODEC_PLUGINS`` module, for tests whose work runs in worker processes.

Its weights are rebuilt deterministically (same bytes, same digest) in the
folder named by ``RVQ_TEST_WEIGHTS`` in whichever process imports it.
"""

import os
from pathlib import Path

from audio_fixtures import tiny_family

FAMILY = tiny_family(Path(os.environ["RVQ_TEST_WEIGHTS"]))
