"""Batch transcoding: many files in, mirrored outputs out, nothing ever half-written.

The pieces, one concept each:

* :mod:`~codec.batch.kinds`: which media kinds exist and how each is coded
  (adding video or audio is adding an entry; nothing else changes);
* :mod:`~codec.batch.sources`: turning a file, folder or manifest into a
  stream of :class:`~codec.batch.items.WorkItem` without listing it in memory;
* :mod:`~codec.batch.outputs`: what counts as a complete output, temporary
  names, and the overwrite policy;
* :mod:`~codec.batch.task`: doing one item (the only code that runs in workers);
* :mod:`~codec.batch.engines`: running tasks locally or on a Ray cluster;
* :mod:`~codec.batch.report`: progress, failures file and summary;
* :mod:`~codec.batch.job`: tying them together.
"""

from codec.batch.items import ItemOptions, WorkItem
from codec.batch.job import JobSpec, JobSummary, run_job
from codec.batch.outputs import Overwrite

__all__ = ["ItemOptions", "JobSpec", "JobSummary", "Overwrite", "WorkItem", "run_job"]
