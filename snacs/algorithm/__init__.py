"""The SNACS pruning algorithm (registered as pruners ``snacs`` and ``snacs_filter``)."""
