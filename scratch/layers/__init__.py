"""`scratch.layers`: Keras layer names, weight names and layouts, with explicit backward."""

from .attention import Attention
from .base import Layer
from .conv import Conv1D, Conv2D
from .conv_transpose import Conv1DTranspose, Conv2DTranspose
from .core import (
                   ELU,
                   Activation,
                   Dense,
                   Flatten,
                   Input,
                   InputLayer,
                   LeakyReLU,
                   ReLU,
                   Reshape,
                   Softmax,
)
from .depthwise import DepthwiseConv2D, SeparableConv2D
from .dropout import Dropout
from .embedding import Embedding
from .merge import (
                   Add,
                   Average,
                   Concatenate,
                   Dot,
                   Maximum,
                   Minimum,
                   Multiply,
                   Subtract,
                   add,
                   average,
                   concatenate,
                   dot,
                   maximum,
                   minimum,
                   multiply,
                   subtract,
)
from .multi_head_attention import MultiHeadAttention
from .noise import GaussianDropout, GaussianNoise
from .normalization import BatchNormalization, LayerNormalization
from .pooling import (
                   AveragePooling1D,
                   AveragePooling2D,
                   GlobalAveragePooling1D,
                   GlobalAveragePooling2D,
                   GlobalMaxPooling1D,
                   GlobalMaxPooling2D,
                   MaxPooling1D,
                   MaxPooling2D,
)
from .rearrange import Permute, RepeatVector
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RecurrentCell, SimpleRNN, SimpleRNNCell
from .spatial import (
                   Cropping1D,
                   Cropping2D,
                   UpSampling1D,
                   UpSampling2D,
                   ZeroPadding1D,
                   ZeroPadding2D,
)
from .wrappers import Bidirectional, TimeDistributed

# Keras' aliases
Convolution1D, Convolution2D = Conv1D, Conv2D
Convolution2DTranspose = Conv2DTranspose
SeparableConvolution2D = SeparableConv2D
MaxPool1D, MaxPool2D, AvgPool1D, AvgPool2D = (MaxPooling1D, MaxPooling2D, AveragePooling1D,
                                              AveragePooling2D)
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D

__all__ = [
    "Layer", "Input", "InputLayer", "Dense", "Activation", "Softmax", "ReLU", "LeakyReLU",
    "ELU", "Flatten", "Reshape", "Dropout",
    "Conv1D", "Conv2D", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D",
    "AveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling1D",
    "GlobalAveragePooling2D", "BatchNormalization", "LayerNormalization",
    "RNN", "RecurrentCell", "SimpleRNN", "SimpleRNNCell", "GRU", "GRUCell", "LSTM", "LSTMCell",
    "Embedding", "Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
    "Dot", "concatenate", "add", "subtract", "multiply", "average", "maximum", "minimum", "dot",
    "Attention", "MultiHeadAttention",
    "Conv1DTranspose", "Conv2DTranspose", "GaussianNoise", "GaussianDropout", "RepeatVector",
    "Permute", "TimeDistributed", "Bidirectional",
    "DepthwiseConv2D", "SeparableConv2D", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D",
    "Cropping2D", "UpSampling1D", "UpSampling2D",
]
