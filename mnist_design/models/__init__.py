"""The networks: ConvNet built from a YAML list of blocks (net.py), the conv blocks (blocks.py), the design family
as numbers a search varies (family.py), and the receptive-field table (receptive_field.py)."""
