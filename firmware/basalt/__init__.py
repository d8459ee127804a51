"""Basalt: firmware for a benchtop insulin-pump prototype. NOT FOR HUMAN USE."""

VERSION = "0.1.0"
