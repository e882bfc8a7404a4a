// cell_kind.cc - the cell kinds the addon knows, by CellKind (cell_kind.h). No ISA flags.
#include "cell_kind.h"

namespace cellstate {

extern const CellKindOps kLstmCell;  // lstm_cell.cc (the fused path, lstm/, for a plain LSTM)
extern const CellKindOps kGruCell;   // gru_cell.cc
extern const CellKindOps kRnnCell;   // rnn_cell.cc (rnn_tanh and rnn_relu)
extern const CellKindOps kLnLstmCell;  // lnlstm_cell.cc

const CellKindOps& cell_kind_ops(CellKind kind) {
  switch (kind) {
    case CellKind::lstm: return kLstmCell;
    case CellKind::gru: return kGruCell;
    case CellKind::rnn_tanh:
    case CellKind::rnn_relu: return kRnnCell;
    case CellKind::lnlstm: return kLnLstmCell;
  }
  return kRnnCell;  // unreachable: cell_calls.cc admits only the values above
}

}  // namespace cellstate
