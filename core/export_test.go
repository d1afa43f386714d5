package core

// WaitClosed is waitClosed for the external tests (package core_test).
var WaitClosed = waitClosed
