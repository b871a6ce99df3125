module github.com/toposync/toposync-streaming

go 1.26.0
