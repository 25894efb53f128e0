"""Trainings: networks as classifiers, their configuration, records and data sets."""
