"""Taxonomy: the canonical CSI trades, the mapping of raw division names onto them (confirmed > CSI
prefix > fuzzy > review queue), the review queue's store, the data-quality score and the mapping
assets. The readers use the mapper to recognise trade names, so this stage sits below ``ingest``."""
