module github.com/cspm-es/cspm-es/deploy/tools/dashshot

go 1.26.8

require golang.org/x/image v0.48.0
