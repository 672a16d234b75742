// Package sources registers every source Sluice ships with the default
// source registry (source.Default), so that a program can open any source
// URL with one import, the way database/sql drivers are imported:
//
//	import (
//		"github.com/sluice-cdc/sluice"
//		_ "github.com/sluice-cdc/sluice/sources"
//	)
//
//	s, err := sluice.Open(ctx, "mysql://repl:secret@db:3306/?server-id=4242", sluice.WithStateFile("sluice.db"))
//
// The schemes are mysql and mariadb (package source/mysql), postgres and
// postgresql (source/postgres), mongodb and mongodb+srv (source/mongodb).
// The factories are exported too, for programs that fill a registry of
// their own (source.NewRegistry and sluice.WithRegistry).
package sources

import (
	"context"
	"net/url"

	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/source"
	"github.com/sluice-cdc/sluice/source/mongodb"
	"github.com/sluice-cdc/sluice/source/mysql"
	"github.com/sluice-cdc/sluice/source/postgres"
)

// Schemes maps each URL scheme this package registers to its factory.
var Schemes = map[string]source.Factory{
	"mysql":       MySQL,
	"mariadb":     MySQL,
	"postgres":    Postgres,
	"postgresql":  Postgres,
	"mongodb":     MongoDB,
	"mongodb+srv": MongoDB,
}

func init() {
	for scheme, f := range Schemes {
		// An error means the program registered the scheme itself first;
		// that one stands.
		_ = source.Register(scheme, f)
	}
}

// Register adds every scheme of Schemes to r. It returns the first error
// (a scheme r already has) after trying them all.
func Register(r *source.Registry) error {
	var first error
	for scheme, f := range Schemes {
		if err := r.Register(scheme, f); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// MySQL builds a MySQL/MariaDB binlog source from a mysql:// or mariadb://
// URL (see mysql.ParseURL).
func MySQL(_ context.Context, u *url.URL, sc source.Config) (pipeline.Source, error) {
	cfg, err := mysql.ParseURL(u.String())
	if err != nil {
		return nil, err
	}
	sc.Apply(&cfg.Common)
	return mysql.New(cfg)
}

// Postgres builds a PostgreSQL logical replication source from a
// postgres:// URL (see postgres.ParseURL).
func Postgres(_ context.Context, u *url.URL, sc source.Config) (pipeline.Source, error) {
	cfg, err := postgres.ParseURL(u.String())
	if err != nil {
		return nil, err
	}
	sc.Apply(&cfg.Common)
	return postgres.New(cfg)
}

// MongoDB builds a MongoDB source from a mongodb:// URL (see
// mongodb.ParseURL).
func MongoDB(_ context.Context, u *url.URL, sc source.Config) (pipeline.Source, error) {
	cfg, err := mongodb.ParseURL(u.String())
	if err != nil {
		return nil, err
	}
	sc.Apply(&cfg.Common)
	return mongodb.New(cfg)
}
