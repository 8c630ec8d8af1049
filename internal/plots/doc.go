// Package plots draws the PNG charts of experiment reports with
// gonum.org/v1/plot and its built-in fonts (no network, no system fonts):
// training curves, accuracy against regularization, a labelled confusion
// matrix, a 2-D scatter of features by class, bar charts and heatmaps of
// sweeps. Each function writes one PNG file and returns an error; they
// are safe for concurrent use.
package plots
