module cove.invalid/lambda

go 1.19
