"""Recurrent layers (course section 6): SimpleRNN, GRU, LSTM, their cells and `RNN(cell)`.

One module per cell family (the step equations and their backward read directly off the
course's Lectures 41, 45 and 46), plus `rnn.py` for the time loop and backpropagation
through time shared by all of them. The fast path (gate-major blocks, one GEMM for the input
projection of all steps, the LSTM step's gate math as one Numba call) starts in
`scratch/_kernels/recurrent.py`; the tests check it against the readable loop.
"""

from .gru import GRU, GRUCell
from .lstm import LSTM, LSTMCell
from .rnn import RNN, RecurrentCell
from .simple_rnn import SimpleRNN, SimpleRNNCell

__all__ = ["RNN", "RecurrentCell", "SimpleRNN", "SimpleRNNCell", "GRU", "GRUCell", "LSTM",
           "LSTMCell"]
