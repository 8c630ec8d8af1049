package probe

import "errors"

var errPCA = errors.New("probe: PCA: the features have no variance")
