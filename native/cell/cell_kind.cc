// cell_kind.cc - the cell kinds the addon knows, by CellKind (cell_kind.h). No ISA flags.
#include "cell_kind.h"

namespace cellstate {

const CellKindOps& cell_kind_ops(CellKind kind) {
  switch (kind) {
    case CellKind::lstm: return kLstmCell;
    case CellKind::gru: return kGruCell;
    case CellKind::rnn_tanh:
    case CellKind::rnn_relu: return kRnnCell;
  }
  return kRnnCell;  // unreachable: addon.cc admits only the values above
}

}  // namespace cellstate
