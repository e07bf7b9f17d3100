package sdtest

// WithAbstractSocket is withAbstractSocket, for this package's tests.
var WithAbstractSocket = withAbstractSocket
