"""``python -m voipano_async.cli``: the same as the ``voipano`` command."""

from . import main

main()
