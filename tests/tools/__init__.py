"""Tests of the project tools: emulator, plan review, CI workflows."""
