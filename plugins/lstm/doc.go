// Package lstm is gozoo's recurrent backbone: encoders compatible with
// torch.nn.LSTM (arch "lstm", proj_size included) and torch.nn.GRU (arch
// "gru"), with an optional nn.Embedding front for int64 token ids and an
// optional nn.Linear head "fc". The binary is gozoo-backbone-lstm.
//
// The package is an architecture on the shared runtime sdk/backbone,
// which does the options, weights, sessions and checks. Checkpoints are a
// bare nn.LSTM/nn.GRU state_dict (weight_ih_l0, ...) or a module's holding
// it as lstm / gru with optional embedding and fc (lstm.weight_ih_l0,
// embedding.weight, fc.weight); input_size, hidden_size, num_layers,
// bidirectional, bias, proj_size, num_embeddings, embedding_dim,
// num_classes and fc_bias are read from its shapes, and an option given
// that contradicts them is an sdk.ErrWeights error naming both values.
// A checkpoint of the other arch is refused by its keys or its gate
// count; an fc whose width fits another fc_input than the one set is an
// error that says which to set. Parameter names are always the module
// layout's (a bare checkpoint's weight_ih_l0 is lstm.weight_ih_l0), so
// "lstm.*_l1*" freezes the second layer.
//
// Inputs keep torch's layouts: [N, T, F] with batch_first=true (this
// plugin's default, as every gozoo backbone takes the batch first) and
// torch's own default [T, N, F] with batch_first=false; [N, T] or [T, N]
// int64 token ids with an embedding; the input spec's BatchAxis says
// where the batch is (0 or 1). ExtractRequest.Lengths gives per-sequence
// valid lengths (1..T), as pack_padded_sequence takes them: padding
// never changes a sequence's features.
//
// Layers (torch module names where one exists):
//
//	embedding   nn.Embedding output, in the input's layout
//	lstm | gru  the module's output sequence, zero at padded steps
//	            ([N, T, D*H'] or [T, N, D*H'], H' = proj_size or hidden_size)
//	lstm.l0 ... each stacked layer's output sequence (extra)
//	h_n, c_n    final states [num_layers*D, N, H'] and [.., hidden_size]
//	            as torch returns them (c_n for LSTM only)
//	last        output at each sequence's last valid step [N, D*H'] (extra)
//	mean        output averaged over each sequence's valid steps (extra)
//	fc          the head, reading last, mean, h_n or h_n_last (option
//	            fc_input): h_n is the last layer's directions
//	            concatenated, h_n_last torch's common fc(h_n[-1]), the
//	            last layer's last direction (the reverse one when
//	            bidirectional)
//
// The graph is built in Go with sdk/nn: one ONNX LSTM or GRU node per
// layer with sequence_lens, torch's gate blocks reordered for ONNX (LSTM
// i, f, g, o to i, o, f, c; GRU r, z, n to z, r, h with
// linear_before_reset=1). ONNX's LSTM has no projection, so with proj_size
// each layer is unrolled over the steps instead (at most 1024). A graph
// is built per sequence length.
package lstm
