"""What birthday and loyalty share: their messages merge into one when they meet.

``CELEBRATION_WINDOW`` is the merge window: a birthday discount and a loyalty reward due
within it of each other reach the contact as one ``celebration/digest`` email. Lower it for
less delay on a lone message (the first message waits the window; see workflows/merging.py).
"""

from workflows import hours
from workflows.merging import Merge

CELEBRATION_WINDOW = hours(48)
CELEBRATION = Merge(key="celebration", template="celebration/digest", window=CELEBRATION_WINDOW)
