#!/bin/sh
# What the official nginx image does at start, for the stand-in: each
# /etc/nginx/templates/*.template becomes /etc/nginx/conf.d/<name> with the environment's
# variables put in (only those that are set: nginx's own $variables stay as they are).
set -eu
templates=/etc/nginx/templates
if [ -d "$templates" ]; then
  defined=$(printf '${%s} ' $(env | cut -d= -f1))
  for template in "$templates"/*.template; do
    [ -f "$template" ] || continue
    output="/etc/nginx/conf.d/$(basename "$template" .template)"
    envsubst "$defined" <"$template" >"$output"
  done
fi
exec "$@"
