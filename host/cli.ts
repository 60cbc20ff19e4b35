#!/usr/bin/env node
console.log('wisp: skeleton');
