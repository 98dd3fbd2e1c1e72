"""Developer tools: the local Bot API sandbox, the scripted demo and the test harness.

Installed as its own distribution, houqin-devtools (`make` installs it); not in the runtime wheel.
"""
