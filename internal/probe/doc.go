// Package probe trains and evaluates probes on frozen features: a
// multinomial logistic regression (L2, scikit-learn's objective and its C
// convention, solved with gonum's L-BFGS) whose regularization is chosen
// on a validation split by a log-spaced sweep refined around the best
// value, and a cosine k-nearest-neighbour classifier. It also splits
// labelled rows (seeded, stratified), scores predictions (top-1, top-5,
// per-class precision, recall and F1, a confusion matrix) and projects
// features on their first two principal components.
//
// Features are row-major float64 matrices, one row per sample; labels are
// class indices 0..K-1. Nothing here is safe for concurrent use on the
// same value; distinct values are independent.
package probe
