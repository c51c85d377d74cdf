"""Training loops for the learned codecs, built for short bursts that resume exactly."""
