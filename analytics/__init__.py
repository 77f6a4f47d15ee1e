"""Purchase-prediction models: BG/NBD, Gamma-Gamma spend and CLV, RFM segments, NASLD lifecycle."""
