"""Rate-distortion evaluation: run codecs over a dataset, measure, compare.

The engine is generic over the kind of media. A *medium* (``codec.eval.media``)
says how a dataset is listed and loaded, which distortion metrics apply and
how a file size becomes a rate; a *codec* (``codec.eval.codecs``) turns one
item into a file on disk and that file back into an item. Images are the first
medium; video and audio are further media and codecs, not a new engine.

Modules: ``engine`` (tasks, cache, parallel run), ``results`` (curves, JSON
and CSV), ``bjontegaard`` (BD-rate, BD-PSNR), ``published`` (curves loaded
from files), ``report`` (Markdown table, plots), ``conditions`` (what every
result file records about how it was made).
"""
