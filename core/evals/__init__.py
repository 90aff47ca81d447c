"""Evaluation suites: a matrix of tasks x models x runs, checked, cached and reported."""
