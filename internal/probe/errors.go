package probe

import "errors"

var errPCA = errors.New("probe: PCA: the eigen-decomposition did not converge")
