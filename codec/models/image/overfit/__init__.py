"""The overfitted image family (``overfit-coolchic-small``, Cool-chic / C3 class).

Each image gets its own small decoder: hierarchical latent grids, an
autoregressive context model, a learned upsampler and a synthesis network,
fitted to that image at encode time and coded into the file with it. No
training set, no weights file: the model id names a fixed definition.

``family.py`` declares the family (torch-free), ``architecture.py`` the fixed
definition and ``params.py`` the header parameters (both torch-free);
``network.py`` the float networks, ``rounding.py`` and ``fit.py`` the
fitting, ``quantize.py`` and ``network_coding.py`` the networks' integers,
``tables.py``, ``integer_context.py`` and ``latent_coding.py`` the exact
latent coding (with its C++ kernel, ``csrc/overfit``), ``coder.py`` one image
end to end, ``rate_search.py`` target rates and ``session.py`` the codec
contract's sessions.
"""

from codec.models.image.overfit.family import FAMILY

__all__ = ["FAMILY"]
