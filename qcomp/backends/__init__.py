"""Backends: OpenQASM emission, the numexpr simulator and the reference simulator."""
