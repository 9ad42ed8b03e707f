module talent-network/cluster/pause

go 1.24.0
